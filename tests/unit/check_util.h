/* check_util.h: the one main() every Check unit-test program shares. */
#ifndef RP_CHECK_UTIL_H
#define RP_CHECK_UTIL_H

#include <check.h>
#include <stdlib.h>

/* Run one suite; CK_ENV lets CK_FORK=no etc. be set from the environment. */
#define RP_CHECK_MAIN(suite_fn)						\
int main(void)								\
{									\
	SRunner *sr = srunner_create(suite_fn());			\
	int failed;							\
	srunner_run_all(sr, CK_ENV);					\
	failed = srunner_ntests_failed(sr);				\
	srunner_free(sr);						\
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;		\
}

#endif
