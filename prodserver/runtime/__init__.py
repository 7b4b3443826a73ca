"""Running the resolved processes: spawning, supervising, stopping, and multiplexing output.

The entry points for the command line are :func:`prodserver.runtime.up.run_up`,
:func:`prodserver.runtime.exec.exec_process` and :func:`prodserver.runtime.oneoff.run_oneoff`.
"""
