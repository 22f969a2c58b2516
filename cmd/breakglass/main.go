// Command breakglass opens an emergency shell on an ECS Fargate breakglass
// service and puts the service back to rest when the shell ends.
package main

import "os"

func main() {
	os.Exit(Main(os.Args[1:]))
}
