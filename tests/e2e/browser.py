"""What the browser tests and the browser benchmark share about driving chromium on a Streamlit page."""

# Headless, and nothing that reaches out: no background fetches, no component updates, no GPU process.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]

# True once Streamlit has finished its script run and shows no running-status widget.
IDLE_JS = """
() => {
  const app = document.querySelector('[data-testid="stApp"]');
  return app !== null && app.dataset.testScriptState === 'notRunning'
    && document.querySelector('[data-testid="stStatusWidget"]') === null;
}
"""
