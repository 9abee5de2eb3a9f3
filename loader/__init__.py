"""The ELF loader, modelled on Linux's fs/binfmt_elf.c load_elf_binary."""
