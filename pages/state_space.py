import streamlit as st

st.title("state_space")
st.info("This page is being built.")
