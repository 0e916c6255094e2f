"""One module per tab or modal screen of the app."""
