import streamlit as st

st.title("truncation")
st.info("This page is being built.")
