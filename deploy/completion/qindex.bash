# bash completion for qindex (and a condor_q link to it): the command lists
# what may follow (qindex [COMMAND] --generate-bash-completion).
# Installed by 'make install' into share/bash-completion/completions/.
_qindex_complete() {
	local cur words
	cur="${COMP_WORDS[COMP_CWORD]}"
	words=("${COMP_WORDS[@]:0:COMP_CWORD}")
	if [[ "${words[0]}" == condor_q || "${words[0]}" == */condor_q ]]; then
		words=(qindex q "${words[@]:1}")
	fi
	local opts
	opts=$("${words[0]/condor_q/qindex}" "${words[@]:1:1}" --generate-bash-completion 2>/dev/null)
	if [[ ${#words[@]} -le 1 ]]; then
		opts=$("${words[0]}" --generate-bash-completion 2>/dev/null)
	fi
	COMPREPLY=($(compgen -W "${opts}" -- "${cur}"))
	[[ ${#COMPREPLY[@]} -eq 0 ]] && compopt -o default 2>/dev/null
	return 0
}
complete -F _qindex_complete qindex condor_q
