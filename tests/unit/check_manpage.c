/* check_manpage.c: rproxyd.conf(5) documents exactly the keys config.c declares, rproxyd(8) the metric families. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_util.h"
#include "config.h"
#include "metrics.h"

#define PAGE		"man/rproxyd.conf.5"
#define DAEMON_PAGE	"man/rproxyd.8"
#define ITEMS_MAX	256
#define NAME_MAX_LEN	64
#define LIST_MAX	4096

/* One ".It Ic NAME" entry of the page and the text up to the next ".It". */
struct item {
	char		 name[NAME_MAX_LEN];
	const char	*body;
	size_t		 bodylen;
	unsigned	 line;
};

struct page {
	char		*text;
	struct item	 items[ITEMS_MAX];
	size_t		 nitems;
};

static struct page	page;

static char *
page_read(const char *path)
{
	FILE	*fp;
	char	*buf;
	long	 len;

	fp = fopen(path, "r");
	ck_assert_msg(fp != NULL, "cannot open %s (set RP_SRCDIR to the source tree)",
	    path);
	ck_assert_int_eq(fseek(fp, 0, SEEK_END), 0);
	len = ftell(fp);
	ck_assert_int_gt(len, 0);
	rewind(fp);
	ck_assert_ptr_ne(buf = malloc((size_t)len + 1), NULL);
	ck_assert_int_eq(fread(buf, 1, (size_t)len, fp), (size_t)len);
	buf[len] = '\0';
	fclose(fp);
	return buf;
}

/* Close the body of the item before p, which starts a new ".It" line. */
static void
item_end(struct page *pg, const char *p)
{
	struct item	*it;

	if (pg->nitems == 0)
		return;
	it = &pg->items[pg->nitems - 1];
	if (it->bodylen == 0 && p > it->body)
		it->bodylen = (size_t)(p - it->body);
}

/* Collect every ".It Ic NAME" of the page: the keys it documents. */
static void
page_parse(struct page *pg)
{
	static const char	 tag[] = ".It Ic ";
	char			*p, *eol;
	struct item		*it;
	unsigned		 line = 0;
	size_t			 n;

	for (p = pg->text; *p != '\0'; p = *eol == '\0' ? eol : eol + 1) {
		line++;
		eol = p + strcspn(p, "\n");
		if (strncmp(p, ".It", 3) != 0 || (p[3] != ' ' && p[3] != '\n'))
			continue;
		item_end(pg, p);
		if (strncmp(p, tag, sizeof(tag) - 1) != 0)
			continue;
		ck_assert_msg(pg->nitems < ITEMS_MAX, "too many .It Ic lines");
		it = &pg->items[pg->nitems++];
		memset(it, 0, sizeof(*it));
		p += sizeof(tag) - 1;
		n = strcspn(p, " \t\n");
		ck_assert_msg(n > 0 && n < sizeof(it->name),
		    PAGE ":%u: bad .It Ic line", line);
		memcpy(it->name, p, n);
		it->name[n] = '\0';
		it->body = eol;
		it->line = line;
	}
	item_end(pg, p);
}

static void
setup(void)
{
	const char	*srcdir = getenv("RP_SRCDIR");
	char		 path[4096];

	snprintf(path, sizeof(path), "%s/%s", srcdir != NULL ? srcdir : ".", PAGE);
	memset(&page, 0, sizeof(page));
	page.text = page_read(path);
	page_parse(&page);
}

static void
teardown(void)
{
	free(page.text);
	page.text = NULL;
}

static const struct item *
page_find(const char *name)
{
	size_t	i;

	for (i = 0; i < page.nitems; i++)
		if (strcmp(page.items[i].name, name) == 0)
			return &page.items[i];
	return NULL;
}

static int
key_exists(const char *name)
{
	size_t	i;

	for (i = 0; config_keys[i] != NULL; i++)
		if (strcmp(config_keys[i], name) == 0)
			return 1;
	return 0;
}

/* Append name to a space-separated list for the failure message. */
static void
list_add(char *list, const char *name)
{
	size_t	len = strlen(list);

	snprintf(list + len, LIST_MAX - len, "%s%s", len > 0 ? " " : "", name);
}

START_TEST(test_every_key_documented)
{
	char	missing[LIST_MAX] = "";
	size_t	i;

	ck_assert_ptr_nonnull(config_keys[0]);
	for (i = 0; config_keys[i] != NULL; i++)
		if (page_find(config_keys[i]) == NULL)
			list_add(missing, config_keys[i]);
	ck_assert_msg(missing[0] == '\0',
	    "keys of config.c without an .It Ic line in " PAGE ": %s", missing);
}
END_TEST

START_TEST(test_every_documented_key_exists)
{
	char	unknown[LIST_MAX] = "";
	size_t	i;

	ck_assert_uint_gt(page.nitems, 0);
	for (i = 0; i < page.nitems; i++)
		if (!key_exists(page.items[i].name))
			list_add(unknown, page.items[i].name);
	ck_assert_msg(unknown[0] == '\0',
	    ".It Ic lines in " PAGE " that are not keys of config.c: %s", unknown);
}
END_TEST

START_TEST(test_keys_documented_once)
{
	char	twice[LIST_MAX] = "";
	size_t	i, j;

	for (i = 0; i < page.nitems; i++)
		for (j = 0; j < i; j++)
			if (strcmp(page.items[i].name, page.items[j].name) == 0) {
				list_add(twice, page.items[i].name);
				break;
			}
	ck_assert_msg(twice[0] == '\0', "keys documented twice in " PAGE ": %s",
	    twice);
}
END_TEST

/* Each entry says what happens without it: "The default is ..." or "no default". */
START_TEST(test_every_key_states_default)
{
	char	quiet[LIST_MAX] = "";
	char	buf[8192];
	size_t	i, n;

	for (i = 0; i < page.nitems; i++) {
		n = page.items[i].bodylen < sizeof(buf) - 1 ?
		    page.items[i].bodylen : sizeof(buf) - 1;
		memcpy(buf, page.items[i].body, n);
		buf[n] = '\0';
		if (strstr(buf, "default") == NULL)
			list_add(quiet, page.items[i].name);
	}
	ck_assert_msg(quiet[0] == '\0', "entries of " PAGE " that give no default: %s",
	    quiet);
}
END_TEST

/*
 * The names on the ".It Va" lines of rproxyd(8)'s metrics list (several on a
 * line are separated by " , "), space-separated into out.
 */
static void
metrics_listed(char *out)
{
	const char	*srcdir = getenv("RP_SRCDIR");
	char		 path[4096], *text, *p, *q, *end, *eol, *name;

	snprintf(path, sizeof(path), "%s/%s", srcdir != NULL ? srcdir : ".", DAEMON_PAGE);
	text = page_read(path);
	ck_assert_ptr_nonnull(p = strstr(text, "METRICS LIST BEGIN"));
	ck_assert_ptr_nonnull(end = strstr(p, "METRICS LIST END"));
	*end = '\0';
	out[0] = '\0';
	for (; (p = strstr(p, "\n.It Va ")) != NULL; p = eol) {
		p += strlen("\n.It Va ");
		/* A long list goes on after a backslash-newline. */
		for (eol = p; *eol != '\0' && (*eol != '\n' || eol[-1] == '\\'); eol++)
			;
		for (q = p; q < eol; q++)
			if (*q == ',' || *q == '\\' || *q == '\n')
				*q = ' ';
		*eol = '\0';
		for (name = strtok(p, " "); name != NULL; name = strtok(NULL, " "))
			list_add(out, name);
		*eol = '\n';
	}
	free(text);
}

static int
word_in(const char *list, const char *word)
{
	size_t		 n = strlen(word);
	const char	*p;

	for (p = list; (p = strstr(p, word)) != NULL; p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return 1;
	return 0;
}

/* Every family of metric_families[] in the man page's list, and nothing else. */
START_TEST(test_every_metric_documented)
{
	const struct metric_family	*f;
	char				 listed[LIST_MAX], missing[LIST_MAX] = "";
	char				 unknown[LIST_MAX] = "", *name;
	int				 known;

	metrics_listed(listed);
	ck_assert_msg(listed[0] != '\0', "no metric listed in " DAEMON_PAGE);
	for (f = metric_families; f->name != NULL; f++)
		if (!word_in(listed, f->name))
			list_add(missing, f->name);
	for (name = strtok(listed, " "); name != NULL; name = strtok(NULL, " ")) {
		for (known = 0, f = metric_families; f->name != NULL && !known; f++)
			known = strcmp(f->name, name) == 0;
		if (!known)
			list_add(unknown, name);
	}
	ck_assert_msg(missing[0] == '\0', "metric families missing from " DAEMON_PAGE
	    "'s list: %s", missing);
	ck_assert_msg(unknown[0] == '\0', "metrics listed in " DAEMON_PAGE
	    " that are no family: %s", unknown);
}
END_TEST

static Suite *
manpage_suite(void)
{
	Suite	*s = suite_create("manpage");
	TCase	*tc = tcase_create("keys");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_every_key_documented);
	tcase_add_test(tc, test_every_documented_key_exists);
	tcase_add_test(tc, test_keys_documented_once);
	tcase_add_test(tc, test_every_key_states_default);
	tcase_add_test(tc, test_every_metric_documented);
	suite_add_tcase(s, tc);
	return s;
}

RP_CHECK_MAIN(manpage_suite)
