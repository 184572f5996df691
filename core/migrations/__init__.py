"""Core's migrations, and the runner that applies every enabled plugin's migrations."""
