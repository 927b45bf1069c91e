import streamlit as st

st.title("neurons")
st.info("This page is being built.")
