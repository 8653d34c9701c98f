"""maskattn: the Streamlit front end's entry point. Only the navigation: each page draws the frame itself.

The pages are in pages/, and a fresh server may run one of them without this script (see ui/frame.py), so
everything a page needs is in ui.frame.render, which each page calls first.
"""

import streamlit as st

from ui import frame

st.navigation(frame.navigation_pages(), position="hidden").run()
