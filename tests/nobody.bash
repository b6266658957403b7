# shellcheck shell=bash
# as_nobody COMMAND [ARG...]: run COMMAND as the user nobody, for the tests
# that check a script's "needs root" message.
#
# nobody keeps one capability, CAP_DAC_READ_SEARCH (ambient, so it survives
# exec), so that it can reach the checkout wherever it is: in a home
# directory of mode 0750 (Ubuntu's default) a plain nobody gets "Permission
# denied" (126) before the script runs. The scripts decide by uid alone, so
# they still take their non-root path and print the real message.
as_nobody() {
	setpriv --reuid=nobody --regid=nogroup --clear-groups \
		--inh-caps=+dac_read_search --ambient-caps=+dac_read_search "$@"
}
