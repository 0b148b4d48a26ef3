"""The runtime: the app that wires everything and runs it, the triggers (HTTP, event, cron) that
turn into invocations, the invoker and the callbacks a runner makes while it runs, hot reload and
the start-up report. Only ``cli`` and ``testing`` import the app (``runtime.app``).
"""
