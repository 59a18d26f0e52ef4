/* check_retry.c: unit tests of the retry policy: method x failure x what was sent. */
#include <check.h>
#include <string.h>

#include "check_util.h"
#include "retry.h"

/* What had happened when the attempt failed. */
enum sent {
	SENT_NOTHING = 0,	/* connect failed: no byte left the proxy */
	SENT_NO_BODY,		/* a request without a body went out */
	SENT_BODY_KEPT,		/* its body went out and is held whole */
	SENT_BODY_STREAMED,	/* its body went out and is gone */
};

static const struct {
	const char		*what;
	int			 idempotent;
	enum sent		 sent;
	enum fail_reason	 reason;
	int			 another;	/* expected: try another backend */
} table[] = {
	{ "GET refused", 1, SENT_NOTHING, FAIL_CONNECT, 1 },
	{ "GET connect timeout", 1, SENT_NOTHING, FAIL_CONNECT_TIMEOUT, 1 },
	{ "GET timeout", 1, SENT_NO_BODY, FAIL_TIMEOUT, 1 },
	{ "GET reset", 1, SENT_NO_BODY, FAIL_RESET, 1 },
	{ "GET bad response", 1, SENT_NO_BODY, FAIL_BAD_RESPONSE, 1 },
	{ "PUT kept body, timeout", 1, SENT_BODY_KEPT, FAIL_TIMEOUT, 1 },
	{ "PUT streamed body, reset", 1, SENT_BODY_STREAMED, FAIL_RESET, 0 },
	{ "POST refused", 0, SENT_NOTHING, FAIL_CONNECT, 1 },
	{ "POST connect timeout", 0, SENT_NOTHING, FAIL_CONNECT_TIMEOUT, 1 },
	{ "POST no body, timeout", 0, SENT_NO_BODY, FAIL_TIMEOUT, 0 },
	{ "POST kept body, reset", 0, SENT_BODY_KEPT, FAIL_RESET, 0 },
	{ "POST streamed body, timeout", 0, SENT_BODY_STREAMED, FAIL_TIMEOUT, 0 },
};

static struct retry_facts
facts(int idempotent, enum sent sent, enum fail_reason reason)
{
	struct retry_facts	f;

	memset(&f, 0, sizeof(f));
	f.idempotent = idempotent;
	f.wrote = sent != SENT_NOTHING;
	f.body = sent == SENT_BODY_KEPT || sent == SENT_BODY_STREAMED;
	f.body_kept = sent == SENT_BODY_KEPT;
	f.reason = reason;
	return f;
}

START_TEST(test_another_backend)
{
	struct retry_facts	f = facts(table[_i].idempotent, table[_i].sent, table[_i].reason);

	ck_assert_msg(retry_another(&f) == table[_i].another, "%s: want %d",
	    table[_i].what, table[_i].another);
}
END_TEST

/* A stale pooled connection: a fresh one only for a reset with no answer, resendable. */
START_TEST(test_fresh_connection)
{
	struct retry_facts	f = facts(1, SENT_NO_BODY, FAIL_RESET);

	ck_assert_int_eq(retry_fresh(&f), 0);	/* not a pooled connection */
	f.reused = 1;
	ck_assert_int_eq(retry_fresh(&f), 1);
	f.got_bytes = 1;			/* the backend answered something */
	ck_assert_int_eq(retry_fresh(&f), 0);
	f = facts(1, SENT_NO_BODY, FAIL_TIMEOUT);
	f.reused = 1;
	ck_assert_int_eq(retry_fresh(&f), 0);	/* a timeout is the backend's */
	f = facts(0, SENT_NO_BODY, FAIL_RESET);
	f.reused = 1;
	ck_assert_int_eq(retry_fresh(&f), 0);	/* POST: never on its own */
	f = facts(1, SENT_BODY_KEPT, FAIL_RESET);
	f.reused = 1;
	ck_assert_int_eq(retry_fresh(&f), 1);
	f = facts(1, SENT_BODY_STREAMED, FAIL_RESET);
	f.reused = 1;
	ck_assert_int_eq(retry_fresh(&f), 0);	/* the body is gone */
}
END_TEST

static Suite *
retry_suite(void)
{
	Suite	*s = suite_create("retry");
	TCase	*tc = tcase_create("core");

	tcase_add_loop_test(tc, test_another_backend, 0, sizeof(table) / sizeof(table[0]));
	tcase_add_test(tc, test_fresh_connection);
	suite_add_tcase(s, tc);
	return s;
}

RP_CHECK_MAIN(retry_suite)
