from gkchat.cli import app

app(prog_name="gkchat")
