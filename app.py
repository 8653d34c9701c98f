"""maskattn: the Streamlit front end. Navigation and the shared sidebar only; each page lives in pages/."""

import streamlit as st

from ui import sidebar

st.set_page_config(page_title="maskattn", page_icon=":material/grid_on:", layout="wide")

pages = [
    st.Page(
        "pages/explorer.py", title="Explorer", icon=":material/grid_on:", default=True, url_path="explorer"
    ),
    st.Page("pages/mask_lab.py", title="Mask Lab", icon=":material/science:", url_path="mask_lab"),
    st.Page("pages/learn.py", title="Learn", icon=":material/school:", url_path="learn"),
]
page = st.navigation(pages)
sidebar.render()
page.run()
