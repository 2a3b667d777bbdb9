"""Hugging Face Spaces entry point (and `python app.py [PORT]` locally, on 127.0.0.1)."""
import sys

from demo.app import build_app, launch, log_to_stderr

log_to_stderr()  # the server's log: a visitor's input error is one line, an unexpected failure its traceback
demo = build_app()

if __name__ == "__main__":
    if len(sys.argv) > 1:
        launch(demo, port=int(sys.argv[1]))
    else:  # Spaces: listen on every interface, port from GRADIO_SERVER_PORT (default 7860)
        launch(demo, host="0.0.0.0")
