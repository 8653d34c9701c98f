"""Running the app beyond one Streamlit process: replicas behind nginx (replicas.py, nginx.conf)."""
