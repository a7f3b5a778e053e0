"""Seeing runs: the live web UI (``aether ui``) and the self-contained HTML report
(``aether report``). Both read through the runtime's query services and draw with the
same front-end code (``static/run.js``)."""
