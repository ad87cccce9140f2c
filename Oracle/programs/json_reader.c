/* A small JSON reader for the oracle programs (project-written). */
#include "json_reader.h"
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct parser { const char *p; char *err; size_t errlen; };

static void ws(struct parser *ps) { while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r') ps->p++; }
static struct jval *fail(struct parser *ps, const char *msg)
{
	if (!ps->err[0]) snprintf(ps->err, ps->errlen, "%s", msg);
	return NULL;
}
static struct jval *value(struct parser *ps, int depth);

static char *string(struct parser *ps)
{
	size_t cap = 16, n = 0;
	char *s = malloc(cap);
	ps->p++;
	while (*ps->p != '"') {
		unsigned c = (unsigned char)*ps->p++;
		if (c == 0 || c < 0x20) { free(s); return NULL; }
		if (c == '\\') {
			char e = *ps->p++;
			switch (e) {
			case '"': case '\\': case '/': c = (unsigned char)e; break;
			case 'b': c = '\b'; break; case 'f': c = '\f'; break; case 'n': c = '\n'; break;
			case 'r': c = '\r'; break; case 't': c = '\t'; break;
			case 'u': {
				unsigned u = 0;
				for (int i = 0; i < 4; i++) {
					char h = *ps->p++;
					if (!isxdigit((unsigned char)h)) { free(s); return NULL; }
					u = u * 16 + (unsigned)(isdigit((unsigned char)h) ? h - '0' : (tolower((unsigned char)h) - 'a' + 10));
				}
				if (u >= 0x80) { free(s); return NULL; } /* names are ASCII in the oracle */
				c = u;
				break;
			}
			default: free(s); return NULL;
			}
		}
		if (n + 2 > cap) s = realloc(s, cap *= 2);
		s[n++] = (char)c;
	}
	ps->p++;
	s[n] = 0;
	return s;
}

static struct jval *value(struct parser *ps, int depth)
{
	if (depth > 64) return fail(ps, "nested too deeply");
	ws(ps);
	struct jval *v = calloc(1, sizeof(*v));
	char c = *ps->p;
	if (c == '{' || c == '[') {
		v->type = c == '{' ? J_OBJ : J_ARR;
		ps->p++;
		ws(ps);
		char close = c == '{' ? '}' : ']';
		if (*ps->p == close) { ps->p++; return v; }
		for (;;) {
			char *key = NULL;
			if (v->type == J_OBJ) {
				ws(ps);
				if (*ps->p != '"' || !(key = string(ps))) return fail(ps, "expected a string key");
				ws(ps);
				if (*ps->p++ != ':') return fail(ps, "expected ':'");
			}
			struct jval *item = value(ps, depth + 1);
			if (!item) return NULL;
			v->items = realloc(v->items, (v->n + 1) * sizeof(*v->items));
			v->keys = realloc(v->keys, (v->n + 1) * sizeof(*v->keys));
			v->items[v->n] = item;
			v->keys[v->n++] = key;
			ws(ps);
			if (*ps->p == ',') { ps->p++; continue; }
			if (*ps->p == close) { ps->p++; return v; }
			return fail(ps, "expected ',' or a closing bracket");
		}
	}
	if (c == '"') {
		v->type = J_STR;
		if (!(v->text = string(ps))) return fail(ps, "bad string");
		return v;
	}
	if (c == '-' || isdigit((unsigned char)c)) {
		const char *s = ps->p;
		if (*ps->p == '-') ps->p++;
		while (isdigit((unsigned char)*ps->p) || *ps->p == '.' || *ps->p == 'e' || *ps->p == 'E' || *ps->p == '+' || *ps->p == '-') ps->p++;
		v->type = J_NUM;
		v->text = strndup(s, (size_t)(ps->p - s));
		return v;
	}
	if (!strncmp(ps->p, "true", 4)) { ps->p += 4; v->type = J_BOOL; v->b = true; return v; }
	if (!strncmp(ps->p, "false", 5)) { ps->p += 5; v->type = J_BOOL; return v; }
	if (!strncmp(ps->p, "null", 4)) { ps->p += 4; v->type = J_NULL; return v; }
	return fail(ps, "unexpected character");
}

struct jval *json_parse(const char *text, char *err, size_t errlen)
{
	struct parser ps = { text, err, errlen };
	err[0] = 0;
	struct jval *v = value(&ps, 0);
	if (!v) return NULL;
	ws(&ps);
	if (*ps.p) return fail(&ps, "trailing characters");
	return v;
}

struct jval *json_get(const struct jval *obj, const char *key)
{
	if (!obj || obj->type != J_OBJ) return NULL;
	for (size_t i = 0; i < obj->n; i++)
		if (!strcmp(obj->keys[i], key)) return obj->items[i];
	return NULL;
}

int json_u64(const struct jval *v, uint64_t *out)
{
	if (!v) return -1;
	const char *s = v->text;
	int base = 10;
	if (v->type == J_STR) {
		if ((s[0] == '0') && (s[1] == 'x' || s[1] == 'X')) { s += 2; base = 16; }
	} else if (v->type != J_NUM) {
		return -1;
	}
	if (!*s) return -1;
	for (const char *q = s; *q; q++)
		if (!(base == 16 ? isxdigit((unsigned char)*q) : isdigit((unsigned char)*q))) return -1;
	errno = 0;
	unsigned long long n = strtoull(s, NULL, base);
	if (errno) return -1;
	*out = n;
	return 0;
}
