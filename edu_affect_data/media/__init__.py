"""Media: what counts as a usable frame and whose region it is (`frames`), the one decoding pass
over each recording (`video_pass`) and the proxies and frame tables it leaves (`store`,
`timelines`), sampling a session window's frames from them (`sampling`), and one way to ask a file
its duration and streams (`probe`). Imports only `core`.
"""
