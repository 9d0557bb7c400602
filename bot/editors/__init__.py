"""The editors' tools: reports over the log, grouping of unanswered questions, the web page.

Editors (council and NHS staff) read what families asked that the bot could not answer,
which answers did not help, and how the answer rate moves week by week. Nothing here
writes to knowledge/: suggestions are files for an editor to review.
"""
