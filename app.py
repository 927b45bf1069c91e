"""lstmviz: entry point and navigation."""

import streamlit as st

from lstmviz.ui import links
from lstmviz.ui.charts import format_choice
from lstmviz.ui.sidebar import model_selector
from lstmviz.ui.warmup import warm_up

st.set_page_config(page_title="lstmviz: an LSTM reads digits", page_icon=":material/pin:", layout="wide")

pages = {
    "Explore": [
        st.Page("pages/lesson.py", title="Guided lesson", icon=":material/school:"),
        st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
        st.Page("pages/explorer.py", title="Step-through explorer", icon=":material/search:"),
        st.Page("pages/draw.py", title="Draw a digit", icon=":material/draw:"),
    ],
    "Experiments": [
        st.Page("pages/truncation.py", title="Truncation", icon=":material/content_cut:"),
        st.Page("pages/state_space.py", title="Hidden-state space", icon=":material/scatter_plot:"),
        st.Page("pages/neurons.py", title="Neuron explorer", icon=":material/neurology:"),
        st.Page("pages/cells.py", title="Cell comparison", icon=":material/compare:"),
    ],
    "Models": [
        st.Page("pages/train.py", title="Train a model", icon=":material/model_training:"),
    ],
}
# The menu is drawn here, not by Streamlit (.streamlit/config.toml: client.showSidebarNavigation = false),
# so a freshly started server never lists the files of pages/ before this script has run.
pages = links.prepare(pages)  # a link's ?model= and ?hide= (hidden pages are left out of the navigation)
navigation = st.navigation(pages, position="hidden")
with st.sidebar.container(key="app_menu"):
    for section, section_pages in pages.items():
        st.caption(section)
        for page in section_pages:
            st.page_link(page)

model_selector()
format_choice()  # the format of every chart's download (camera) button
navigation.run()
warm_up()  # once per server, after the first page is drawn: the next pages' data and model load in the background
