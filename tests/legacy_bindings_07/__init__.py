"""Bindings in the shape the 0.7 CLI generated for the chat module (written for these tests).

No module definition, rows built from 0.7 JSON, table names given as class names (``"User"``),
and ``send_message_reducer`` without ``reducer_name`` (as bindings before August 2023).
"""
