/* embed.c: build-time helper that turns a data file into a C source file
 * defining `const char NAME[]` (NUL-terminated) and `const size_t NAME_len`,
 * so plinth carries its generated API schema without needing it at run time. */
#include <stdio.h>

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: embed FILE NAME\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    printf("/* generated from %s by tools/embed; do not edit */\n#include <stddef.h>\n", argv[1]);
    printf("const char %s[] = {\n", argv[2]);
    int c;
    unsigned long n = 0;
    while ((c = fgetc(f)) != EOF) {
        printf("%d,", c);
        if (++n % 32 == 0) putchar('\n');
    }
    fclose(f);
    printf("0};\nconst size_t %s_len = %lu;\n", argv[2], n);
    return 0;
}
