@echo off
rem Shared by run.bat, backfill.bat and run_docker.bat (called, not run directly): checks the
rem arguments, finds etl (or the container engine), writes a start and an end line to the
rem project's launcher log, runs etl and returns etl's exit code (2 when the launcher refuses
rem the arguments or cannot find etl). The same environment variables as launchers/lib/launch.sh:
rem ETL_HOME, ETL_BIN, ETL_METADATA_DIR, ETL_DOCKER, ETL_IMAGE.
rem Called as: call "%~dp0lib\launch.bat" MODE RUNNER LAUNCHER_NAME LAUNCHERS_DIR args...
rem In cmd, "=" separates arguments: quote --param values ("--param" "day=2024-01-01" or
rem --param "day=2024-01-01").
setlocal EnableExtensions DisableDelayedExpansion
set "MODE=%~1"
set "RUNNER=%~2"
set "LAUNCHER=%~3"
set "HERE=%~4"
shift & shift & shift & shift
if /i "%RUNNER%"=="docker" if /i "%~1"=="backfill" (
    set "MODE=backfill"
    shift
)
if "%~1"=="" (
    set "ERR=the project is missing: %LAUNCHER% PROJECT [options]"
    goto usage_error
)
if "%~1"=="-h" goto usage
if "%~1"=="--help" goto usage
if "%~1"=="/?" goto usage
set "PROJECT=%~1"
if "%PROJECT:~0,1%"=="-" (
    set "ERR=the project comes first, before '%PROJECT%': %LAUNCHER% PROJECT [options]"
    goto usage_error
)
call :is_name "%PROJECT%"
if errorlevel 1 (
    set "ERR=project '%PROJECT%' is not a project name (a folder under projects\: letters, digits, _ and -)"
    goto usage_error
)
shift

set "ENV_NAME="
set "EXTRA="
set "FROM="
set "TO="
set "DAYS="
set "QUIET="
set "LOAD_TYPE="

:parse
if "%~1"=="" goto parsed
set "OPT=%~1"
set "VAL=%~2"
if /i "%OPT%"=="--env" goto opt_env
if /i "%OPT%"=="--param" goto opt_param
if /i "%OPT%"=="--task" goto opt_task
if /i "%OPT%"=="--dry-run" goto opt_flag
if /i "%OPT%"=="--quiet" goto opt_quiet
if /i "%OPT%"=="-q" goto opt_quiet
if /i "%OPT%"=="-h" goto usage
if /i "%OPT%"=="--help" goto usage
if "%MODE%"=="run" (
    if /i "%OPT%"=="--load-type" goto opt_load_type
    for %%B in (--from --to --days --parallel --resume --keep-going) do if /i "%OPT%"=="%%B" (
        set "ERR=%OPT% is a backfill option: use backfill.bat (or run_docker.bat backfill)"
        goto usage_error
    )
)
if "%MODE%"=="backfill" (
    if /i "%OPT%"=="--from" goto opt_from
    if /i "%OPT%"=="--to" goto opt_to
    if /i "%OPT%"=="--days" goto opt_days
    if /i "%OPT%"=="--parallel" goto opt_parallel
    if /i "%OPT%"=="--resume" goto opt_flag
    if /i "%OPT%"=="--keep-going" goto opt_flag
)
set "ERR=unknown argument '%OPT%'"
goto usage_error

:need_value
if "%VAL%"=="" (
    set "ERR=%OPT% needs a value"
    exit /b 1
)
exit /b 0

:opt_env
call :need_value
if errorlevel 1 goto usage_error
call :is_name "%VAL%"
if errorlevel 1 (
    set "ERR=--env '%VAL%' is not an environment name (letters, digits, _ and -)"
    goto usage_error
)
set "ENV_NAME=%VAL%"
shift & shift & goto parse

:opt_load_type
call :need_value
if errorlevel 1 goto usage_error
for %%T in (F I full incremental) do if /i "%VAL%"=="%%T" goto load_type_ok
set "ERR=--load-type '%VAL%' must be F (full) or I (incremental)"
goto usage_error
:load_type_ok
set "LOAD_TYPE=%VAL%"
shift & shift & goto parse

:opt_param
call :need_value
if errorlevel 1 goto usage_error
set "KEY="
for /f "delims==" %%K in ("%VAL%") do set "KEY=%%K"
if not defined KEY goto bad_param
if "%KEY%"=="%VAL%" goto bad_param
set "EXTRA=%EXTRA% --param "%VAL%""
shift & shift & goto parse
:bad_param
set "ERR=--param '%VAL%' must look like KEY=VALUE (in cmd, quote it: --param "KEY=VALUE")"
goto usage_error

:opt_task
call :need_value
if errorlevel 1 goto usage_error
set "EXTRA=%EXTRA% --task "%VAL%""
shift & shift & goto parse

:opt_flag
set "EXTRA=%EXTRA% %OPT%"
shift & goto parse

:opt_quiet
set "QUIET=-q"
shift & goto parse

:opt_from
call :need_value
if errorlevel 1 goto usage_error
call :is_date "%VAL%"
if errorlevel 1 (
    set "ERR=--from '%VAL%' is not a date: write YYYY-MM-DD or "YYYY-MM-DD HH:MM:SS""
    goto usage_error
)
set "FROM=%VAL%"
shift & shift & goto parse

:opt_to
call :need_value
if errorlevel 1 goto usage_error
call :is_date "%VAL%"
if errorlevel 1 (
    set "ERR=--to '%VAL%' is not a date: write YYYY-MM-DD or "YYYY-MM-DD HH:MM:SS""
    goto usage_error
)
set "TO=%VAL%"
shift & shift & goto parse

:opt_days
call :need_value
if errorlevel 1 goto usage_error
call :is_count "%VAL%"
if errorlevel 1 (
    set "ERR=--days '%VAL%' must be a whole number from 1"
    goto usage_error
)
set "DAYS=%VAL%"
shift & shift & goto parse

:opt_parallel
call :need_value
if errorlevel 1 goto usage_error
call :is_count "%VAL%"
if errorlevel 1 (
    set "ERR=--parallel '%VAL%' must be a whole number from 1"
    goto usage_error
)
set "EXTRA=%EXTRA% --parallel %VAL%"
shift & shift & goto parse

:parsed
if not "%MODE%"=="backfill" goto mode_done
if not defined FROM (
    set "ERR=--from DATE is missing (the first day of the range)"
    goto usage_error
)
if not defined TO (
    set "ERR=--to DATE is missing (the end of the range, excluded)"
    goto usage_error
)
if not defined DAYS (
    set "ERR=--days N is missing (days per window)"
    goto usage_error
)
set "EXTRA= --from "%FROM%" --to "%TO%" --days %DAYS%%EXTRA%"
:mode_done
rem Given twice (a generated launcher's default, then the caller's): the last one wins.
if defined LOAD_TYPE set "EXTRA= --load-type %LOAD_TYPE%%EXTRA%"
if defined ENV_NAME set "EXTRA= --env %ENV_NAME%%EXTRA%"

if defined ETL_HOME (set "ROOT=%ETL_HOME%") else (set "ROOT=%HERE%\..")
if not exist "%ROOT%\" (
    set "ERR=ETL_HOME '%ROOT%' is not a folder"
    goto usage_error
)
for %%I in ("%ROOT%") do set "ROOT=%%~fI"
set "SCRIPT=projects/%PROJECT%/project.rhai"
if not exist "%ROOT%\projects\%PROJECT%\project.rhai" (
    set "ERR=no project '%PROJECT%': %ROOT%\projects\%PROJECT%\project.rhai does not exist"
    goto usage_error
)
set "COMMAND=exec"
if "%MODE%"=="backfill" set "COMMAND=backfill"

if /i "%RUNNER%"=="docker" goto find_engine
if defined ETL_BIN (
    if not exist "%ETL_BIN%" (
        set "ERR=ETL_BIN '%ETL_BIN%' does not exist"
        goto usage_error
    )
    set "ETL=%ETL_BIN%"
    goto have_etl
)
set "ETL="
for %%E in (etl.exe) do set "ETL=%%~$PATH:E"
if defined ETL goto have_etl
if exist "%ROOT%\target\release\etl.exe" (
    set "ETL=%ROOT%\target\release\etl.exe"
    goto have_etl
)
set "ERR=cannot find etl: set ETL_BIN, put etl.exe on PATH, or build it (cargo build --release in %ROOT%)"
goto usage_error
:have_etl
set "RUN_ETL="%ETL%""
if /i "%ETL:~-4%"==".bat" set "RUN_ETL=call "%ETL%""
if /i "%ETL:~-4%"==".cmd" set "RUN_ETL=call "%ETL%""
set "SHOWN=%ETL% %COMMAND% %SCRIPT%"
goto run

:find_engine
set "ENGINE=%ETL_DOCKER%"
if defined ENGINE goto have_engine
for %%E in (docker.exe podman.exe) do if not defined ENGINE set "ENGINE=%%~$PATH:E"
if defined ENGINE goto have_engine
set "ERR=cannot find docker or podman: install one, or set ETL_DOCKER"
goto usage_error
:have_engine
set "IMAGE=%ETL_IMAGE%"
if not defined IMAGE set "IMAGE=etl:latest"
set "ENV_FLAGS="
rem Names only: the engine reads the values from this environment.
for /f "delims==" %%V in ('set') do call :env_flag "%%V"
if defined ETL_ENV set "ENV_FLAGS=%ENV_FLAGS% -e ETL_ENV"
if defined ETL_LOG set "ENV_FLAGS=%ENV_FLAGS% -e ETL_LOG"
set "MOUNTS=-v "%ROOT%\projects:/work/projects:ro" -v "%ROOT%\metadata:/work/metadata""
if exist "%ROOT%\etl.toml" set "MOUNTS=%MOUNTS% -v "%ROOT%\etl.toml:/work/etl.toml:ro""
if exist "%ROOT%\.env" set "MOUNTS=%MOUNTS% -v "%ROOT%\.env:/work/.env:ro""
if not exist "%ROOT%\metadata" mkdir "%ROOT%\metadata"
set "RUN_ETL="%ENGINE%" run --rm %MOUNTS%%ENV_FLAGS% %IMAGE%"
if /i "%ENGINE:~-4%"==".bat" set "RUN_ETL=call %RUN_ETL%"
if /i "%ENGINE:~-4%"==".cmd" set "RUN_ETL=call %RUN_ETL%"
set "SHOWN=%ENGINE% run ... %IMAGE% %COMMAND% %SCRIPT%"

:run
set "METADATA=%ETL_METADATA_DIR%"
if not defined METADATA set "METADATA=%ROOT%\metadata"
set "LOG_DIR=%METADATA%\logs\%PROJECT%"
if not exist "%LOG_DIR%" mkdir "%LOG_DIR%" 2>nul
set "LOG=%LOG_DIR%\launcher.log"
>>"%LOG%" echo %DATE% %TIME% start %LAUNCHER%: %SHOWN%%EXTRA%
pushd "%ROOT%"
%RUN_ETL% %QUIET% %COMMAND% "%SCRIPT%"%EXTRA%
set "CODE=%ERRORLEVEL%"
popd
>>"%LOG%" echo %DATE% %TIME% end %LAUNCHER%: exit %CODE%
exit /b %CODE%

:env_flag
rem ETL_CONN_* by name only.
set "NAME=%~1"
if /i "%NAME:~0,9%"=="ETL_CONN_" set "ENV_FLAGS=%ENV_FLAGS% -e %NAME%"
exit /b 0

:is_name
rem Letters, digits, _ and -, at least one: with them all as delimiters nothing is left.
set "CHECK=%~1"
if not defined CHECK exit /b 1
for /f "delims=abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-" %%A in ("a%~1") do exit /b 1
exit /b 0

:is_count
rem A whole number from 1.
set "CHECK=%~1"
if not defined CHECK exit /b 1
if "%CHECK:~0,1%"=="0" exit /b 1
for /f "delims=0123456789" %%A in ("0%~1") do exit /b 1
exit /b 0

:is_date
rem YYYY-MM-DD, optionally with " HH:MM" or " HH:MM:SS" (or T instead of the space).
set "CHECK=%~1"
if not defined CHECK exit /b 1
for /f "delims=0123456789-:T " %%A in ("0%~1") do exit /b 1
if not "%CHECK:~4,1%%CHECK:~7,1%"=="--" exit /b 1
if "%CHECK:~10%"=="" goto date_digits
if not "%CHECK:~10,1%"==" " if not "%CHECK:~10,1%"=="T" exit /b 1
if not "%CHECK:~13,1%"==":" exit /b 1
if "%CHECK:~16%"=="" goto date_digits
if not "%CHECK:~16,1%"==":" exit /b 1
if not "%CHECK:~19%"=="" exit /b 1
:date_digits
rem Digits where digits belong: the separators at their places, nothing else in between.
for /f "tokens=1-3 delims=-" %%A in ("%CHECK:~0,10%") do (
    if not "%%A%%B%%C"=="%CHECK:~0,4%%CHECK:~5,2%%CHECK:~8,2%" exit /b 1
)
exit /b 0

:usage_error
setlocal EnableDelayedExpansion
>&2 echo.!LAUNCHER!: error: !ERR!
>&2 echo.Run '!LAUNCHER! --help' for the arguments.
endlocal
exit /b 2

:usage
if "%MODE%"=="backfill" goto usage_backfill
echo Usage: %LAUNCHER% PROJECT [--env NAME] [--load-type F^|I] [--param "KEY=VALUE"]... [--task NAME]... [--dry-run] [--quiet]
echo.
echo Runs projects\PROJECT\project.rhai with `etl exec`.
echo   PROJECT              a folder under projects\ (letters, digits, _ and -)
echo   --env NAME           the environment of etl.toml (default: ETL_ENV, then default_env)
echo   --load-type F^|I      F full reload (default), I incremental
echo   --param "KEY=VALUE"  a value for run.params (repeatable; quoted, as cmd splits at =)
echo   --task NAME          run only this task (repeatable)
echo   --dry-run            evaluate everything, write nothing
echo   --quiet              only warnings and errors on the console
goto usage_end
:usage_backfill
echo Usage: %LAUNCHER% PROJECT --from DATE --to DATE --days N [--env NAME] [--param "KEY=VALUE"]... [--task NAME]... [--parallel K] [--resume] [--keep-going] [--dry-run] [--quiet]
echo.
echo Reloads [--from, --to) of projects\PROJECT\project.rhai in windows of N days with `etl backfill`.
echo   --from DATE          the first day (YYYY-MM-DD, or "YYYY-MM-DD HH:MM:SS"), included
echo   --to DATE            the end, excluded
echo   --days N             days per window (a whole number from 1)
echo   --parallel K         windows at once (default 1)
echo   --resume             skip the windows already done (after a failure)
echo   --keep-going         run every window even after a failure
echo   (--env, --param, --task, --dry-run, --quiet as for run.bat)
:usage_end
if /i "%RUNNER%"=="docker" (
    echo.
    echo In a container: %LAUNCHER% [backfill] PROJECT ... ^(the word backfill first for a backfill^).
)
exit /b 0
