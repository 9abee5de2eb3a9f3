/* A fuzzing target: checks the bytes of a global buffer that a fuzzer writes before main runs.
 * Exits 0 normally, 1 on a partial match, and aborts on the magic input "FUZZ". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char input[64] = "seed";

int main(void)
{
    int score = 0;
    if (input[0] == 'F') {
        score++;
        if (input[1] == 'U') {
            score++;
            if (input[2] == 'Z') {
                score++;
                if (input[3] == 'Z')
                    abort();
            }
        }
    }
    printf("input=%.8s score=%d\n", input, score);
    return score > 0;
}
