"""Persistence behind one small async interface (base.py): the embedded SQLite store
(sqlite.py) and the MongoDB store (mongo.py), which pass one shared contract suite.
server.py picks one from the config."""
