"""App-side helpers for the Streamlit pages: widgets, components and their pure logic."""
