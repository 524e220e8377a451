namespace Dls.Client.Tests;
