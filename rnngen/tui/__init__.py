"""The Textual workbench (`rnngen` with no arguments): a front end over the UI-free engine."""
