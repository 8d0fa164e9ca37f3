/* bzimage.c: the PVH vmlinux inside a bzImage; see bzimage.h.
 * The kernel package comes from Debian's archive, but its bytes are still
 * input: every offset is checked before it is read, in 64-bit arithmetic
 * so that no sum wraps, and every size is capped before it is allocated.
 * The LZ4 decoding is libarchive's (already a dependency for .deb files),
 * limited to its LZ4 filter: no other decompressor sees these bytes. */
#include "mlvm-build.h"

#include <archive.h>
#include <elf.h>

#include "bzimage.h"
#include "util.h"

/* Setup header offsets (boot protocol). */
#define HDR_SETUP_SECTS    0x1f1
#define HDR_SYSSIZE        0x1f4
#define HDR_BOOT_FLAG      0x1fe
#define HDR_MAGIC          0x202
#define HDR_VERSION        0x206
#define HDR_LOADFLAGS      0x211
#define HDR_PAYLOAD_OFFSET 0x248
#define HDR_PAYLOAD_LENGTH 0x24c
#define HDR_END            0x250   /* through payload_length */
#define LOADED_HIGH        0x01

#define LZ4_LEGACY_MAGIC   0x184c2102u   /* what the kernel's build writes (lz4 -l) */
#define LZ4_FRAME_MAGIC    0x184d2204u
#define XEN_ELFNOTE_PHYS32_ENTRY 18

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t le32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

/* [OFF, OFF + SIZE) lies inside LEN bytes, without wrapping. */
static bool inside(uint64_t off, uint64_t size, uint64_t len)
{
        return off <= len && size <= len - off;
}

int bzimage_payload(const void *img, size_t len, size_t *ret_off, size_t *ret_len, struct mlvm_err *e)
{
        const uint8_t *p = img;

        if (len > BZIMAGE_MAX)
                return err_setx(e, -EFBIG, "bzImage: larger than %u bytes", BZIMAGE_MAX);
        if (len < HDR_END)
                return err_setx(e, -EINVAL, "bzImage: %zu bytes, too short for a setup header", len);
        if (le16(p + HDR_BOOT_FLAG) != 0xaa55 || memcmp(p + HDR_MAGIC, "HdrS", 4) != 0)
                return err_setx(e, -EINVAL, "bzImage: no setup header (boot flag 0xAA55 and \"HdrS\")");
        uint16_t version = le16(p + HDR_VERSION);
        if (version < BZIMAGE_MIN_VERSION)
                return err_setx(e, -EINVAL, "bzImage: boot protocol %u.%02u, payload fields need 2.08 or later",
                                version >> 8, version & 0xff);
        if (!(p[HDR_LOADFLAGS] & LOADED_HIGH))
                return err_setx(e, -EINVAL, "bzImage: a zImage (loaded low), not a bzImage");
        /* setup_sects 0 means 4 (boot protocol); then the boot sector itself. */
        uint64_t setup = ((uint64_t)(p[HDR_SETUP_SECTS] ? p[HDR_SETUP_SECTS] : 4) + 1) * 512;
        if (setup > len)
                return err_setx(e, -EINVAL, "bzImage: setup code of %llu bytes, past the end of the %zu-byte file",
                                (unsigned long long)setup, len);
        /* The protected-mode code: syssize 16-byte units, within the file
         * (a signed kernel's signature follows it). */
        uint64_t pm = (uint64_t)le32(p + HDR_SYSSIZE) * 16;
        if (pm > len - setup)
                return err_setx(e, -EINVAL, "bzImage: syssize says %llu bytes of kernel, the file has %llu after the setup code",
                                (unsigned long long)pm, (unsigned long long)(len - setup));
        uint64_t off = le32(p + HDR_PAYLOAD_OFFSET), plen = le32(p + HDR_PAYLOAD_LENGTH);
        if (plen < 8 || !inside(off, plen, pm))
                return err_setx(e, -EINVAL, "bzImage: payload at %llu, %llu bytes, is not inside the %llu-byte kernel",
                                (unsigned long long)off, (unsigned long long)plen, (unsigned long long)pm);
        *ret_off = (size_t)(setup + off);
        *ret_len = (size_t)plen;
        return 0;
}

static const char *compression_name(const uint8_t *p, size_t len)
{
        static const struct { const char *name; uint8_t magic[4]; size_t n; } known[] = {
                { "gzip", { 0x1f, 0x8b }, 2 },        { "xz", { 0xfd, '7', 'z', 'X' }, 4 },
                { "zstd", { 0x28, 0xb5, 0x2f, 0xfd }, 4 }, { "bzip2", { 'B', 'Z', 'h' }, 3 },
                { "lzo", { 0x89, 'L', 'Z', 'O' }, 4 },   { "lzma", { 0x5d, 0x00, 0x00 }, 3 },
        };
        for (size_t i = 0; i < ARRAY_SIZE(known); i++)
                if (len >= known[i].n && memcmp(p, known[i].magic, known[i].n) == 0)
                        return known[i].name;
        return "unknown";
}

static void archive_read_freep(struct archive **a) { if (*a) archive_read_free(*a); }
#define _cleanup_archive_ __attribute__((cleanup(archive_read_freep)))

int bzimage_decompress(const void *payload, size_t len, size_t max, void **ret, size_t *ret_len,
                       struct mlvm_err *e)
{
        const uint8_t *p = payload;

        if (len < 8)
                return err_setx(e, -EINVAL, "payload: %zu bytes, too short", len);
        uint32_t magic = le32(p);
        if (magic != LZ4_LEGACY_MAGIC && magic != LZ4_FRAME_MAGIC)
                return err_setx(e, -EINVAL, "payload: %s-compressed, not LZ4: only an LZ4 kernel "
                                "(CONFIG_KERNEL_LZ4, as Debian's) can become a PVH kernel here",
                                compression_name(p, len));
        /* The decompressed size, from the trailer; checked before anything is allocated. */
        uint64_t want = le32(p + len - 4);
        if (want > max)
                return err_setx(e, -EFBIG, "payload: decompresses to %llu bytes, more than %zu",
                                (unsigned long long)want, max);
        if (want == 0)
                return err_setx(e, -EINVAL, "payload: its size trailer says 0 bytes");

        _cleanup_archive_ struct archive *a = archive_read_new();
        struct archive_entry *entry;
        /* Only the LZ4 filter, and never an external lz4 program (ARCHIVE_WARN). */
        if (archive_read_support_filter_lz4(a) != ARCHIVE_OK)
                return err_setx(e, -ENOTSUP, "payload: this libarchive decodes LZ4 only through an external program");
        archive_read_support_format_raw(a);
        /* The stream without the size trailer, so the decoder sees only LZ4. */
        if (archive_read_open_memory(a, payload, len - 4) != ARCHIVE_OK ||
            archive_read_next_header(a, &entry) != ARCHIVE_OK)
                return err_setx(e, -EINVAL, "payload: %s", archive_error_string(a) ?: "not LZ4");
        if (archive_filter_code(a, 0) != ARCHIVE_FILTER_LZ4)
                return err_setx(e, -EINVAL, "payload: not an LZ4 stream");
        /* One byte of room past WANT: a stream longer than its trailer says fails. */
        _cleanup_free_ uint8_t *out = xmalloc((size_t)want + 1);
        size_t got = 0;
        for (;;) {
                la_ssize_t n = archive_read_data(a, out + got, (size_t)want + 1 - got);
                if (n < 0)
                        return err_setx(e, -EINVAL, "payload: %s", archive_error_string(a) ?: "LZ4 decoding failed");
                if (n == 0)
                        break;
                got += (size_t)n;
                if (got > want)
                        return err_setx(e, -EINVAL, "payload: decompresses to more than the %llu bytes its size "
                                        "trailer says", (unsigned long long)want);
        }
        if (got != want)
                return err_setx(e, -EINVAL, "payload: decompresses to %zu bytes, its size trailer says %llu", got,
                                (unsigned long long)want);
        *ret = TAKE_PTR(out);
        *ret_len = got;
        return 0;
}

/* Walk the notes of one PT_NOTE segment for the PVH entry. */
static int find_pvh_note(const uint8_t *p, size_t size, unsigned *notes, bool *found, uint64_t *entry,
                         struct mlvm_err *e)
{
        size_t at = 0;
        while (size - at >= 12) {
                uint64_t namesz = le32(p + at), descsz = le32(p + at + 4);
                uint32_t type = le32(p + at + 8);
                uint64_t name_pad = (namesz + 3) & ~3ULL, desc_pad = (descsz + 3) & ~3ULL;
                if (++*notes > PVH_ELF_MAX_NOTES)
                        return err_setx(e, -E2BIG, "ELF: more than %d notes", PVH_ELF_MAX_NOTES);
                if (!inside(at + 12, name_pad + desc_pad, size))
                        return err_setx(e, -EINVAL, "ELF: a note runs past the end of its segment");
                const uint8_t *name = p + at + 12, *desc = name + name_pad;
                if (namesz == 4 && memcmp(name, "Xen", 4) == 0 && type == XEN_ELFNOTE_PHYS32_ENTRY) {
                        if (*found)
                                return err_setx(e, -EINVAL, "ELF: two PVH entry notes");
                        if (descsz != 4 && descsz != 8)
                                return err_setx(e, -EINVAL, "ELF: PVH entry note of %llu bytes, not 4 or 8",
                                                (unsigned long long)descsz);
                        *entry = descsz == 4 ? le32(desc) : le64(desc);
                        *found = true;
                }
                at += 12 + (size_t)(name_pad + desc_pad);
        }
        /* What is left, too short for a note, may only be padding. */
        for (; at < size; at++)
                if (p[at])
                        return err_setx(e, -EINVAL, "ELF: bytes after the last note");
        return 0;
}

int pvh_elf_check(const void *elf, size_t len, struct pvh_elf *ret, struct mlvm_err *e)
{
        const uint8_t *p = elf;
        Elf64_Ehdr eh;
        bool found = false;
        unsigned notes = 0;
        uint64_t entry = 0;
        int r;

        if (len < sizeof(eh) || memcmp(p, ELFMAG, SELFMAG) != 0)
                return err_setx(e, -EINVAL, "not an ELF file");
        if (p[EI_CLASS] != ELFCLASS64 || p[EI_DATA] != ELFDATA2LSB || p[EI_VERSION] != EV_CURRENT)
                return err_setx(e, -EINVAL, "ELF: not 64-bit little-endian");
        memcpy(&eh, p, sizeof(eh));
        if (eh.e_machine != EM_X86_64 || eh.e_type != ET_EXEC)
                return err_setx(e, -EINVAL, "ELF: not an x86-64 executable (machine %u, type %u)", eh.e_machine,
                                eh.e_type);
        if (eh.e_ehsize != sizeof(eh) || eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 ||
            eh.e_phnum > PVH_ELF_MAX_PHDRS || !inside(eh.e_phoff, (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr), len))
                return err_setx(e, -EINVAL, "ELF: bad program header table");
        for (size_t i = 0; i < eh.e_phnum; i++) {
                Elf64_Phdr ph;
                memcpy(&ph, p + eh.e_phoff + i * sizeof(ph), sizeof(ph));
                if (ph.p_type != PT_LOAD && ph.p_type != PT_NOTE)
                        continue;
                if (!inside(ph.p_offset, ph.p_filesz, len))
                        return err_setx(e, -EINVAL, "ELF: segment %zu runs past the end of the file", i);
                if (ph.p_type == PT_LOAD && (ph.p_filesz > ph.p_memsz || ph.p_paddr > UINT64_MAX - ph.p_memsz))
                        return err_setx(e, -EINVAL, "ELF: segment %zu has bad sizes", i);
                if (ph.p_type == PT_NOTE &&
                    (r = find_pvh_note(p + ph.p_offset, (size_t)ph.p_filesz, &notes, &found, &entry, e)) < 0)
                        return r;
        }
        if (!found)
                return err_setx(e, -ENOENT, "ELF: no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY): a kernel "
                                "built without CONFIG_PVH");
        /* A 32-bit entry that lands in what QEMU loads from the file. */
        bool in_load = false;
        for (size_t i = 0; i < eh.e_phnum && !in_load; i++) {
                Elf64_Phdr ph;
                memcpy(&ph, p + eh.e_phoff + i * sizeof(ph), sizeof(ph));
                in_load = ph.p_type == PT_LOAD && entry >= ph.p_paddr && entry - ph.p_paddr < ph.p_filesz;
        }
        if (entry == 0 || entry > UINT32_MAX || !in_load)
                return err_setx(e, -EINVAL, "ELF: PVH entry 0x%llx is not inside a loaded segment below 4 GiB",
                                (unsigned long long)entry);
        *ret = (struct pvh_elf){ .entry = entry };
        return 0;
}

#define PAGE 4096u

int pvh_elf_compact(const void *elf, size_t len, void **ret, size_t *ret_len, struct mlvm_err *e)
{
        const uint8_t *p = elf;
        Elf64_Ehdr eh;
        Elf64_Phdr ph[PVH_ELF_MAX_PHDRS], out_ph[PVH_ELF_MAX_PHDRS];
        struct pvh_elf info;
        int r;

        if ((r = pvh_elf_check(elf, len, &info, e)) < 0)
                return r;
        memcpy(&eh, p, sizeof(eh));
        memcpy(ph, p + eh.e_phoff, eh.e_phnum * sizeof(Elf64_Phdr));
        memcpy(out_ph, ph, sizeof(ph));
        /* Every offset and size below is within LEN (checked above), and
         * the padding adds at most a page per segment: no sum can wrap. */
        size_t cur = sizeof(eh) + eh.e_phnum * sizeof(Elf64_Phdr);
        for (size_t i = 0; i < eh.e_phnum; i++) {
                if (ph[i].p_type == PT_NOTE)
                        continue;
                if (ph[i].p_type != PT_LOAD) {
                        if (ph[i].p_filesz)
                                return err_setx(e, -EINVAL, "ELF: segment %zu (type 0x%x) has file bytes that only "
                                                "PT_LOAD and PT_NOTE may have", i, ph[i].p_type);
                        out_ph[i].p_offset = 0;
                        continue;
                }
                size_t n = (size_t)ph[i].p_filesz;
                while (n && p[ph[i].p_offset + n - 1] == 0)
                        n--;
                /* The next page, plus the address's offset in its page:
                 * p_offset = p_vaddr (mod p_align) still holds. */
                size_t off = ((cur + PAGE - 1) & ~(size_t)(PAGE - 1)) + (size_t)(ph[i].p_vaddr & (PAGE - 1));
                out_ph[i].p_offset = off;
                out_ph[i].p_filesz = n;
                out_ph[i].p_align = PAGE;
                cur = off + n;
        }
        for (size_t i = 0; i < eh.e_phnum; i++) {
                if (ph[i].p_type != PT_NOTE)
                        continue;
                bool moved = false;
                for (size_t j = 0; j < eh.e_phnum && !moved; j++)
                        if (ph[j].p_type == PT_LOAD && ph[i].p_offset >= ph[j].p_offset &&
                            ph[i].p_filesz <= out_ph[j].p_filesz &&
                            ph[i].p_offset - ph[j].p_offset <= out_ph[j].p_filesz - ph[i].p_filesz) {
                                out_ph[i].p_offset = out_ph[j].p_offset + (ph[i].p_offset - ph[j].p_offset);
                                moved = true;
                        }
                if (!moved) {   /* notes that are not loaded: after the segments */
                        out_ph[i].p_offset = (cur + 3) & ~(size_t)3;
                        cur = (size_t)out_ph[i].p_offset + (size_t)ph[i].p_filesz;
                }
        }
        uint8_t *out = xcalloc(1, cur);
        eh.e_phoff = sizeof(eh);
        eh.e_shoff = 0;
        eh.e_shentsize = 0;
        eh.e_shnum = 0;
        eh.e_shstrndx = SHN_UNDEF;
        memcpy(out, &eh, sizeof(eh));
        memcpy(out + sizeof(eh), out_ph, eh.e_phnum * sizeof(Elf64_Phdr));
        for (size_t i = 0; i < eh.e_phnum; i++)
                if (ph[i].p_type == PT_LOAD || ph[i].p_type == PT_NOTE)
                        memcpy(out + out_ph[i].p_offset, p + ph[i].p_offset, (size_t)out_ph[i].p_filesz);
        *ret = out;
        *ret_len = cur;
        return 0;
}

int bzimage_to_pvh(const void *img, size_t len, void **ret, size_t *ret_len, struct pvh_elf *ret_info,
                   struct mlvm_err *e)
{
        _cleanup_free_ void *elf = NULL, *small = NULL;
        size_t off, plen, elf_len, small_len;
        struct pvh_elf info, again;
        int r;

        if ((r = bzimage_payload(img, len, &off, &plen, e)) < 0 ||
            (r = bzimage_decompress((const uint8_t *)img + off, plen, BZIMAGE_VMLINUX_MAX, &elf, &elf_len, e)) < 0 ||
            (r = pvh_elf_check(elf, elf_len, &info, e)) < 0 ||
            (r = pvh_elf_compact(elf, elf_len, &small, &small_len, e)) < 0)
                return r;
        /* What is signed is checked as what was decompressed. */
        if ((r = pvh_elf_check(small, small_len, &again, e)) < 0)
                return err_prefix(e, "compacted");
        if (again.entry != info.entry)
                return err_setx(e, -EINVAL, "ELF: compacting moved the PVH entry");
        *ret = TAKE_PTR(small);
        *ret_len = small_len;
        if (ret_info)
                *ret_info = info;
        return 0;
}
