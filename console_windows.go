package main

import (
	"os"

	"golang.org/x/sys/windows"
)

// Concord.exe is a GUI program (no console window flashes up when the
// Start menu starts it), so Windows gives it no console: run from cmd.exe
// or PowerShell with a subcommand, its output would go nowhere. With a
// subcommand and no usable stdout, it writes to the console of the shell
// that started it instead. (cmd.exe does not wait for a GUI program, so
// the output may follow the next prompt; redirected or piped output, as in
// `Concord.exe status > s.txt` or under Wine, needs none of this.)
func init() {
	if len(os.Args) < 2 {
		return // the window
	}
	if h, err := windows.GetStdHandle(windows.STD_OUTPUT_HANDLE); err == nil && h != 0 && h != windows.InvalidHandle {
		return
	}
	const attachParentProcess = ^uintptr(0) // ATTACH_PARENT_PROCESS, (DWORD)-1
	if r, _, _ := windows.NewLazySystemDLL("kernel32.dll").NewProc("AttachConsole").Call(attachParentProcess); r == 0 {
		return // started with no console to attach to
	}
	if f, err := os.OpenFile("CONOUT$", os.O_WRONLY, 0); err == nil {
		os.Stdout, os.Stderr = f, f
	}
}
