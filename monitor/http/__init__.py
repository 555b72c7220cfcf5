"""The one HTTP server helper, the HTTP API, and the retry arithmetic shared by sources and
delivery.
"""
