/* A stand-in for bcryptprimitives.dll, which Wine 8 lacks and Rust's standard library on
 * Windows imports ProcessPrng from. Real Windows 10/11 has the DLL: this file is built
 * and placed next to posagent.exe by tests/windows/run for the tests under Wine only,
 * and never shipped. */
#include <windows.h>
#include <ntsecapi.h>

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!RtlGenRandom(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
