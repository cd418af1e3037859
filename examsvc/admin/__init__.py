"""The agency's back office: dashboard and menu."""
