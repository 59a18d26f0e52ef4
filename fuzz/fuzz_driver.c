/*
 * fuzz_driver.c: runs a libFuzzer harness over files without libFuzzer, so the
 * seed corpus and every input a fuzzer once crashed on are replayed by
 * `make check` (under the sanitizers in the sanitizer pass).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
main(int argc, char *argv[])
{
	static uint8_t	buf[1 << 20];
	FILE		*fp;
	size_t		 n;
	int		 i;

	for (i = 1; i < argc; i++) {
		if ((fp = fopen(argv[i], "rb")) == NULL) {
			perror(argv[i]);
			return 1;
		}
		n = fread(buf, 1, sizeof(buf), fp);
		fclose(fp);
		LLVMFuzzerTestOneInput(buf, n);
		printf("ok %s (%zu bytes)\n", argv[i], n);
	}
	printf("%d passed, 0 failed\n", argc - 1);
	return 0;
}
