"""The app's side: the result cache (`Engine`), the handlers the Blocks wire, the comparison,
and the pictures and files a result becomes. `app.py` at the top builds the page."""
