/*
 * bcryptprimitives.dll for Wine 8.0, test-only (make test-windows).
 *
 * Go >= 1.22's runtime draws its random numbers from ProcessPrng in
 * bcryptprimitives.dll, which every Windows since 10 has and Wine 8.0 lacks
 * (Concord.exe dies with "bcryptprimitives.dll not found"). This DLL exports
 * ProcessPrng over RtlGenRandom (advapi32's SystemFunction036), which Wine
 * has. It is copied into the test's own Wine prefix only; nothing ships it.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG n = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (!SystemFunction036(data, n))
            return FALSE;
        data += n;
        len -= n;
    }
    return TRUE;
}
