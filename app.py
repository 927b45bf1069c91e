"""lstmviz: entry point and navigation."""

import streamlit as st

from lstmviz.ui.sidebar import model_selector

st.set_page_config(page_title="lstmviz: an LSTM reads digits", page_icon="🔢", layout="wide")

pages = {
    "Explore": [
        st.Page("pages/home.py", title="Home", icon="🏠", default=True),
        st.Page("pages/explorer.py", title="Step-through explorer", icon="🔎"),
        st.Page("pages/draw.py", title="Draw a digit", icon="✏️"),
    ],
    "Experiments": [
        st.Page("pages/truncation.py", title="Truncation", icon="✂️"),
        st.Page("pages/state_space.py", title="Hidden-state space", icon="🌌"),
        st.Page("pages/neurons.py", title="Neuron explorer", icon="🧠"),
        st.Page("pages/cells.py", title="Cell comparison", icon="⚖️"),
    ],
    "Models": [
        st.Page("pages/train.py", title="Train a model", icon="🏋️"),
    ],
}
navigation = st.navigation(pages)
model_selector()
navigation.run()
