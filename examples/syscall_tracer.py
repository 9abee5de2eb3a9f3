"""A syscall tracer in 15 lines: every syscall with its arguments and result."""
import sys

from emulator import Process

p = Process.spawn(sys.argv[1], sys.argv[1:])


@p.on_syscall(on_exit=True)
def show(call):
    args = ", ".join(hex(a) for a in call.args[:3])
    print(f"{call.name}({args}) = {call.result}", file=sys.stderr)


result = p.run()
print(f"+++ exited with {result.exit_status} +++", file=sys.stderr)
