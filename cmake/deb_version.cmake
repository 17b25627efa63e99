# The package version, from `git describe` (included by packaging.cmake at configure time and by
# CPack and the install step at package time, so a package never carries a stale version):
#   tag v1.2.3 on HEAD         -> 1.2.3
#   3 commits after v1.2.3     -> 1.2.3+git3.1a2b3c4
#   no tag: project version    -> 0.1.0+git812.1a2b3c4   (commit count first: later sorts higher)
#   uncommitted changes        -> the above + .dirty
#   no git (a source tarball)  -> 0.1.0
# Always a valid Debian version without a revision: a digit, then [A-Za-z0-9.+~].
function(conndoctor_deb_version source_dir project_version out)
  set(version ${project_version})
  find_program(GIT_EXECUTABLE git)
  if(GIT_EXECUTABLE)
    execute_process(COMMAND ${GIT_EXECUTABLE} -C ${source_dir} describe --tags --long
                            --match "v[0-9]*" --abbrev=7
                    OUTPUT_VARIABLE described RESULT_VARIABLE tagged
                    OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    execute_process(COMMAND ${GIT_EXECUTABLE} -C ${source_dir} rev-parse --short=7 HEAD
                    OUTPUT_VARIABLE hash RESULT_VARIABLE in_git
                    OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    if(tagged EQUAL 0 AND described MATCHES "^v([0-9][A-Za-z0-9.+~]*)-([0-9]+)-g([0-9a-f]+)$")
      set(version ${CMAKE_MATCH_1})
      if(NOT CMAKE_MATCH_2 EQUAL 0)
        set(version "${version}+git${CMAKE_MATCH_2}.${CMAKE_MATCH_3}")
      endif()
    elseif(in_git EQUAL 0)
      execute_process(COMMAND ${GIT_EXECUTABLE} -C ${source_dir} rev-list --count HEAD
                      OUTPUT_VARIABLE count OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
      set(version "${project_version}+git${count}.${hash}")
    endif()
    if(in_git EQUAL 0)
      execute_process(COMMAND ${GIT_EXECUTABLE} -C ${source_dir} status --porcelain
                              --untracked-files=no
                      OUTPUT_VARIABLE changes ERROR_QUIET)
      if(NOT changes STREQUAL "")
        set(version "${version}.dirty")
      endif()
    endif()
  endif()
  if(NOT version MATCHES "^[0-9][A-Za-z0-9.+~]*$")
    message(FATAL_ERROR "package version '${version}' is not a valid Debian version")
  endif()
  set(${out} ${version} PARENT_SCOPE)
endfunction()
