"""The software MMU: VMAs (Linux's vm_area_struct), a 4 KB page table, frames, a page cache."""
