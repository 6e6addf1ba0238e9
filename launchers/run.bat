@echo off
rem Runs a project with `etl exec`:
rem   launchers\run.bat PROJECT [--env NAME] [--load-type F|I] [--param "KEY=VALUE"]... [--task NAME]... [--dry-run] [--quiet]
rem Checks the arguments, finds etl, writes a start and an end line to
rem metadata\logs\PROJECT\launcher.log and returns etl's exit code: launchers\lib\launch.bat.
call "%~dp0lib\launch.bat" run native "%~nx0" "%~dp0." %*
exit /b %ERRORLEVEL%
