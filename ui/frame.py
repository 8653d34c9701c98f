"""The frame every page draws first: page settings, the server check, kept widget values, the sidebar.

The pages live in a top-level ``pages/`` folder. Streamlit runs a fresh server in its older multipage mode
until some run calls ``st.navigation`` (``PagesManager.uses_pages_directory``): then a deep link such as
``/mask_lab`` runs ``pages/mask_lab.py`` on its own, without ``app.py``. So nothing a page needs may live in
``app.py``: each page calls ``render`` first, which draws the same frame in both modes, and the navigation
is ours (``st.page_link`` in the sidebar) with Streamlit's own hidden in both (``position="hidden"`` in
``app.py``, ``client.showSidebarNavigation = false`` in ``.streamlit/config.toml`` for the older mode). File
names equal url paths, so a link means the same page in both modes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import streamlit as st

from . import limits, sidebar
from .i18n import current_language
from .lessons import tr
from .share import LINK_PARAMS

KEPT_KEY = "frame_kept"  # the widget keys of every page this session has drawn


@dataclass(frozen=True)
class PageEntry:
    """One page of the app: its script under ``pages/``, its navigation title and icon."""

    path: str
    title: str
    icon: str

    @property
    def url_path(self) -> str:
        """Return the page's url path, the file's name (the older multipage mode knows no other)."""
        return self.path.rsplit("/", 1)[-1].removesuffix(".py")


EXPLORER = PageEntry("pages/explorer.py", "Explorer", ":material/grid_on:")
MASK_LAB = PageEntry("pages/mask_lab.py", "Mask Lab", ":material/science:")
LEARN = PageEntry("pages/learn.py", "Learn", ":material/school:")
PAGES = (EXPLORER, MASK_LAB, LEARN)  # the first is the default, served at the root


def navigation_pages() -> list[st.Page]:
    """Return the ``st.Page`` of each page for ``app.py``'s ``st.navigation`` (the first is the default)."""
    return [
        st.Page(p.path, title=p.title, icon=p.icon, url_path=p.url_path, default=p is PAGES[0]) for p in PAGES
    ]


def keep_widget_values(keys: Iterable[str]) -> None:
    """Keep the values of ``keys`` and of every page drawn before in this session across page changes.

    Streamlit forgets a widget's value in a run where the widget is not drawn, i.e. when its page is left;
    re-assigning the key keeps what people typed and chose for when they come back.
    """
    kept = st.session_state.setdefault(KEPT_KEY, set())
    kept.update(keys)
    for key in kept:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def drop_explorer_link() -> None:
    """Remove the Explorer's link parameters from the address: Streamlit carries them onto the next page."""
    current = st.query_params.to_dict()
    if any(name in current for name in LINK_PARAMS):
        st.query_params.from_dict({k: v for k, v in current.items() if k not in LINK_PARAMS})


def render(keeps: Iterable[str] = (), *, owns_link: bool = False) -> None:
    """Draw the frame of a page whose widget values ``keeps`` are kept; stop the run on a misset server.

    ``owns_link``: the page reads and writes the Explorer's link parameters; any other page drops them.
    """
    st.set_page_config(page_title="maskattn", page_icon=":material/grid_on:", layout="wide")
    if limits.PROBLEM:
        st.error(f"This server is not configured correctly: {limits.PROBLEM}. Fix it and restart the server.")
        st.stop()
    keep_widget_values(keeps)
    if not owns_link:
        drop_explorer_link()
    lang = current_language()
    with st.sidebar:
        for p in PAGES:
            st.page_link(p.path, label=tr(f"nav.{p.url_path}", lang), icon=p.icon)
    sidebar.render()
