/* A small JSON reader for the oracle programs (project-written). */
#ifndef JSON_READER_H
#define JSON_READER_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };
struct jval {
	enum jtype type;
	bool b;
	char *text;            /* J_NUM: the literal; J_STR: the decoded string */
	struct jval **items;   /* J_ARR and J_OBJ values */
	char **keys;           /* J_OBJ keys */
	size_t n;
};

/* Parses `text`; NULL on error with a message in `err`. */
struct jval *json_parse(const char *text, char *err, size_t errlen);
/* The member `key` of an object, or NULL. */
struct jval *json_get(const struct jval *obj, const char *key);
/* Reads an unsigned 64-bit number: a JSON integer or a "0x..."/decimal string. 0 on success. */
int json_u64(const struct jval *v, uint64_t *out);
#endif
