// Package timesync is where Concord reads time. Logic that tests must control
// takes a Clock instead of calling time.Now, so a member's clock can be skewed
// in tests and, later, corrected by NTP or by its peers.
package timesync
