"""maskattn: the Streamlit front end. Navigation and the shared sidebar only.

Pages live in app_pages/, not pages/: Streamlit serves a pages/ folder on its own, so a deep link on a freshly
started server would run that page without this script (no sidebar, raw file names in the navigation).
"""

import streamlit as st

from ui import sidebar

st.set_page_config(page_title="maskattn", page_icon=":material/grid_on:", layout="wide")

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
page = st.navigation(pages)
sidebar.render()
page.run()
