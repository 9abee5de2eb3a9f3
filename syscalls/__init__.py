"""Linux syscalls for the x86-64 and i386 ABIs: tables as data, handlers by family."""
