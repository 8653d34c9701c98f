"""maskattn: the Streamlit front end. Navigation and the shared sidebar only.

Pages live in app_pages/, not pages/: Streamlit serves a pages/ folder on its own, so a deep link on a freshly
started server would run that page without this script (no sidebar, raw file names in the navigation).
"""

import streamlit as st

from ui import limits, sidebar

st.set_page_config(page_title="maskattn", page_icon=":material/grid_on:", layout="wide")
if limits.PROBLEM:
    st.error(f"This server is not configured correctly: {limits.PROBLEM}. Fix it and restart the server.")
    st.stop()

pages = [
    st.Page(
        "app_pages/explorer.py",
        title="Explorer",
        icon=":material/grid_on:",
        default=True,
        url_path="explorer",
    ),
    st.Page("app_pages/mask_lab.py", title="Mask Lab", icon=":material/science:", url_path="mask_lab"),
    st.Page("app_pages/learn.py", title="Learn", icon=":material/school:", url_path="learn"),
]
# Streamlit forgets a widget's value in a run where the widget is not drawn, i.e. when its page is left.
# Re-assigning these keys keeps what people typed and chose when they come back to a page.
PERSISTENT_WIDGET_KEYS = (
    "ex_text", "ex_scope", "ex_preset", "ex_gate_value",
    "ml_view", "ml_source", "ml_heads", "ml_head", "ml_seed", "ml_length", "ml_text",
    "ml_tr_text", "ml_tr_layer", "ml_tr_head", "ml_tr_preset", "ml_tr_block",
)  # fmt: skip
for key in PERSISTENT_WIDGET_KEYS:
    if key in st.session_state:
        st.session_state[key] = st.session_state[key]

page = st.navigation(pages)
sidebar.render()
page.run()
