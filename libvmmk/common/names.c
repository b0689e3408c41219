/* Sanitizer for OpenStack resource names (docs/names.md). */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* ASCII for U+00C0..U+00FF; "" = drop. */
static const char *const latin1[64] = {
    "A", "A", "A", "A", "A", "A", "AE", "C", "E", "E", "E", "E", "I", "I", "I", "I",
    "D", "N", "O", "O", "O", "O", "O", "",  "O", "U", "U", "U", "U", "Y", "TH", "ss",
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
    "d", "n", "o", "o", "o", "o", "o", "",  "o", "u", "u", "u", "u", "y", "th", "y",
};

/* Latin Extended-A, U+0100..U+017F, in pairs of upper/lower case. */
static const char latin_ext_a[129] =
    "AaAaAaCcCcCcCcDdDdEeEeEeEeEeGgGgGgGgHhHhIiIiIiIiIi"  /* 0100-0131 (50) */
    "JjJjKkkLlLlLlLlLlNnNnNnnNnOoOoOoOoRrRrRrSsSsSsSsTtTt" /* 0132-0167 */
    "TtUuUuUuUuUuUuWwYyYZzZzZzs";                          /* 0168-017F */

/* Decode one UTF-8 sequence; returns its length, 0 when invalid. */
static size_t utf8_decode(const unsigned char *s, unsigned *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t n;
    unsigned c, min;
    if ((s[0] & 0xE0) == 0xC0) {
        n = 2; c = s[0] & 0x1F; min = 0x80;
    } else if ((s[0] & 0xF0) == 0xE0) {
        n = 3; c = s[0] & 0x0F; min = 0x800;
    } else if ((s[0] & 0xF8) == 0xF0) {
        n = 4; c = s[0] & 0x07; min = 0x10000;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return n;
}

/* Returns the ASCII replacement for a code point: a string to keep, "" to
 * drop the character silently, or NULL when it is a separator/invalid. */
static const char *translit(unsigned cp, char one[2])
{
    if (cp < 0x80) {
        one[0] = (char)cp;
        one[1] = '\0';
        if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9') ||
            cp == '.' || cp == '_' || cp == '-')
            return one;
        return NULL;
    }
    if (cp >= 0xC0 && cp <= 0xFF)
        return cp == 0xD7 || cp == 0xF7 ? NULL : latin1[cp - 0xC0];
    if (cp >= 0x100 && cp <= 0x17F) {
        switch (cp) {
        case 0x132: return "IJ";
        case 0x133: return "ij";
        case 0x152: return "OE";
        case 0x153: return "oe";
        case 0x141: return "L";
        case 0x142: return "l";
        case 0x110: return "D";
        case 0x111: return "d";
        default: break;
        }
        one[0] = latin_ext_a[cp - 0x100];
        one[1] = '\0';
        return one;
    }
    if (cp == 0xA0 || cp == 0x2009 || cp == 0x2002 || cp == 0x2003 || cp == 0x3000)
        return NULL; /* spaces separate */
    return "";       /* other scripts and symbols: dropped */
}


static int trim_char(char c)
{
    return c == '-' || c == '_' || c == '.';
}

int vmmk_name_sanitize(char **out, const char *name, size_t max_len)
{
    if (!out)
        return vmmk__err(VMMK_EINVAL, "vmmk_name_sanitize: out is NULL");
    *out = NULL;
    if (!name)
        return vmmk__err(VMMK_EINVAL, "vmmk_name_sanitize: name is NULL");
    if (max_len == 0)
        max_len = VMMK_NAME_DEFAULT_MAX;
    if (max_len > VMMK_NAME_MAX)
        return vmmk__err(VMMK_EINVAL, "vmmk_name_sanitize: max_len %zu exceeds %d", max_len,
                         VMMK_NAME_MAX);

    vmmk__buf b = { 0 };
    int pending_sep = 0;
    const unsigned char *p = (const unsigned char *)name;
    while (*p) {
        unsigned cp = 0;
        size_t n = utf8_decode(p, &cp);
        char one[2];
        const char *rep = n ? translit(cp, one) : NULL;
        p += n ? n : 1;
        if (!rep) {
            pending_sep = 1;
            continue;
        }
        if (!*rep)
            continue;
        if (pending_sep && b.len > 0 && b.data[b.len - 1] != '-')
            vmmk__buf_append(&b, "-", 1);
        pending_sep = 0;
        /* Runs of the same punctuation collapse ("a--b" -> "a-b"). */
        if (trim_char(rep[0]) && !rep[1] && b.len > 0 && b.data[b.len - 1] == rep[0])
            continue;
        vmmk__buf_puts(&b, rep);
    }
    char *s = vmmk__buf_take(&b);
    if (!s)
        return vmmk__err(VMMK_ENOMEM, "out of memory sanitizing a name");
    /* Trim, cut to length, and trim again so the cut leaves no '-' at the end. */
    size_t start = 0, len = strlen(s);
    while (start < len && trim_char(s[start]))
        start++;
    memmove(s, s + start, len - start + 1);
    len -= start;
    if (len > max_len)
        len = max_len;
    while (len > 0 && trim_char(s[len - 1]))
        len--;
    s[len] = '\0';
    if (len == 0) {
        free(s);
        s = strdup("unnamed");
        if (!s)
            return vmmk__err(VMMK_ENOMEM, "out of memory sanitizing a name");
        if (max_len < strlen(s))
            s[max_len] = '\0';
    }
    *out = s;
    return 0;
}
