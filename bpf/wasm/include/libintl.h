/* No translations in the wasm build (libelf's messages stay English). */
#ifndef KB_LIBINTL_H
#define KB_LIBINTL_H
#define gettext(s) (s)
#define dgettext(d, s) (s)
#define dcgettext(d, s, c) (s)
#define bindtextdomain(d, p) (d)
#endif
