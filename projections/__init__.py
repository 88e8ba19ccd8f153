"""The read side: pure rules and the read models that answer questions."""
